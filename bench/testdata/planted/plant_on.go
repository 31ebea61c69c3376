//go:build plantedalloc

package planted

var sink []byte

// plant is the regression the golden tests look for: one heap allocation per call.
func plant(n int) {
	sink = make([]byte, 64+n%2)
}
