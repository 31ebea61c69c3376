//go:build !plantedalloc

package planted

func plant(int) {}
