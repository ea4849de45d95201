package store

import "context"

type hiddenKey struct{}

// WithHidden returns ctx carrying fn, which DeleteDirectory calls once the
// directory is hidden from every reader (its first transaction committed)
// and before it purges the directory's data, which can take minutes: a
// caller that answers before the purge ends can say the directory is gone.
func WithHidden(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, hiddenKey{}, fn)
}

// Hidden calls the function WithHidden put in ctx, if any. Backends call it
// from DeleteDirectory.
func Hidden(ctx context.Context) {
	if fn, ok := ctx.Value(hiddenKey{}).(func()); ok {
		fn()
	}
}
