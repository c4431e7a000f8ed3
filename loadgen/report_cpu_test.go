package loadgen

import "testing"

func TestCPUMS(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0.000"}, {0.2834, "0.283"}, {0.3006, "0.301"}, {1.3, "1.30"}, {9.994, "9.99"}, {64.72, "64.7"}, {1234.56, "1234.6"},
	} {
		if got := cpuMS(tc.v); got != tc.want {
			t.Errorf("cpuMS(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
