package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, memoryFloor},
		{40 << 20, memoryFloor},
		{80 << 20, memoryFloor},
		{100 << 20, 200 << 20},
		{1 << 30, 2 << 30},
		{1 << 63, 1 << 61},
	} {
		if got := memoryLimit(c.live); got != c.want {
			t.Errorf("memoryLimit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}
