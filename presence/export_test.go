package presence

import (
	"testing"
	"time"
)

// RegularCycles makes cycles start right after connecting and then every
// interval, without jitter, for the duration of t.
func RegularCycles(t *testing.T) {
	j, o := jitter, startOffset
	jitter = func(d time.Duration) time.Duration { return d }
	startOffset = func(time.Duration) time.Duration { return 0 }
	t.Cleanup(func() { jitter, startOffset = j, o })
}
