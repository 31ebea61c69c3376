package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestChiRouter builds the chi example and checks that the memdiag tree answers under chi and
// that Instrument names the route by chi's pattern, not the raw path.
func TestChiRouter(t *testing.T) {
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	h := newRouter(mon)
	for _, id := range []string{"1", "2", "3"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/users/"+id, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("/users/%s: %d", id, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/debug/memdiag/report.json", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	req.Host = "127.0.0.1:8080" // httptest's example.com is refused: it is what DNS rebinding looks like
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("report.json under chi: %d %s", rec.Code, rec.Body.String())
	}
	var rep struct {
		Routes []struct {
			Route    string `json:"route"`
			Requests uint64 `json:"requests"`
		} `json:"routes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Routes {
		if r.Route == "GET /users/{id}" && r.Requests == 3 {
			return
		}
	}
	t.Errorf("no route \"GET /users/{id}\" with 3 requests in %+v", rep.Routes)
}
