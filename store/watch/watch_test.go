package watch

import "testing"

func pending(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestHub(t *testing.T) {
	var h Hub
	a1, stopA1 := h.Watch("a")
	a2, stopA2 := h.Watch("a")
	b, stopB := h.Watch("b")
	defer stopB()

	h.Signal("a")
	h.Signal("a") // merges into the pending one
	if !pending(a1) || !pending(a2) || pending(b) {
		t.Fatal("Signal(a) must wake a's watchers only")
	}
	if pending(a1) {
		t.Error("two signals before a read must wake once")
	}
	h.SignalAll()
	if !pending(a1) || !pending(b) {
		t.Error("SignalAll must wake everyone")
	}
	pending(a2)
	stopA1()
	stopA1() // idempotent
	h.Signal("a", "c")
	if pending(a1) || !pending(a2) {
		t.Error("a stopped watch is woken, or a live one is not")
	}
	stopA2()
	if len(h.subs) != 1 {
		t.Errorf("stopped directories are kept: %v", h.subs)
	}
}
