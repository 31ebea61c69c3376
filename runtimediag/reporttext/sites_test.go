package reporttext

import (
	"strings"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestSitesAppFrame: a site allocated in a library names the application's line under it; a site
// that is the application's own line is printed once.
func TestSitesAppFrame(t *testing.T) {
	rep := &runtimediag.Report{TopAllocationSites: &runtimediag.AllocationSites{
		SampleRateBytes: 512 << 10,
		Sites: []runtimediag.AllocationSite{
			{Function: "strings.genSplit", File: "/go/src/strings/strings.go", Line: 300, BytesPerSecond: 1 << 20, Share: 0.6,
				AppFrame: &runtimediag.SiteFrame{Function: "main.parse", File: "/app/main.go", Line: 42}},
			{Function: "main.build", File: "/app/main.go", Line: 50, BytesPerSecond: 1 << 19, Share: 0.3,
				AppFrame: &runtimediag.SiteFrame{Function: "main.build", File: "/app/main.go", Line: 50}},
		},
	}}
	var b strings.Builder
	if err := Write(&b, rep, ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "from main.parse") || !strings.Contains(out, "/app/main.go:42") {
		t.Errorf("the library site does not name the application's line:\n%s", out)
	}
	if strings.Contains(out, "from main.build") {
		t.Errorf("an application site repeats itself:\n%s", out)
	}
}
