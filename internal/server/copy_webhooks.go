package server

import (
	"context"
	"fmt"
	"io"

	"github.com/scimd/scimd/store"
)

// copyWebhooks copies every directory's webhooks with their sealed
// secrets (bound to the directory and webhook ids, which the copy keeps)
// and checks their number. Change events are not copied: the target
// numbers them from 1 again, so each webhook starts from there (its
// cursor 0), delivering the changes written to the target; the delivery
// log stays behind with the events it names.
func copyWebhooks(ctx context.Context, src, dst store.Store, dirs []store.Directory, out io.Writer) (int, error) {
	total := 0
	for _, d := range dirs {
		hooks, err := src.ListWebhooks(ctx, d.ID)
		if err != nil {
			return total, fmt.Errorf("read the webhooks of directory %s: %w", d.ID, err)
		}
		for _, w := range hooks {
			w.Cursor = 0
			if _, err := dst.CreateWebhook(ctx, w); err != nil {
				fmt.Fprintf(out, "stopped at webhook %s of directory %s: the webhooks after it were not copied\n"+
					"the target is not empty any more: drop and re-create it before running scimd copy again\n", w.ID, d.ID)
				return total, fmt.Errorf("copy webhook %s: %w", w.ID, err)
			}
		}
		copied, err := dst.ListWebhooks(ctx, d.ID)
		if err != nil {
			return total, fmt.Errorf("verify the webhooks of directory %s: %w", d.ID, err)
		}
		if len(copied) != len(hooks) {
			return total, fmt.Errorf("directory %s: %d webhooks in the source, %d in the target", d.ID, len(hooks), len(copied))
		}
		total += len(hooks)
	}
	if total > 0 {
		fmt.Fprintf(out, "webhooks (source/target): %d/%d ok; their secrets are sealed: run scimd with the same SCIMD_SECRET_KEY; "+
			"they deliver the changes made from now on (the delivery logs were not copied)\n", total, total)
	}
	return total, nil
}
