package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// reapplyKey is the read-only key of the mapping rules answers that shows
// the re-application of the rules to the stored contacts; a PUT of a GET
// answer ignores it.
const reapplyKey = "reapply"

// reapplyJSON is the progress of a directory's rules re-application.
type reapplyJSON struct {
	// State is "pending" (the rules changed, the job has not started yet),
	// "running" or "done".
	State        string     `json:"state"`
	RulesVersion int64      `json:"rulesVersion"`
	Done         int        `json:"done"`
	Total        int        `json:"total"`
	Failed       int        `json:"failed"`
	StartedAt    *time.Time `json:"startedAt"`
	FinishedAt   *time.Time `json:"finishedAt"`
}

// reapplyOf is the progress of d's rules re-application, nil while its
// rules never changed a contact.
func (a *Admin) reapplyOf(ctx context.Context, d store.Directory) (*reapplyJSON, error) {
	job, err := a.cfg.Store.GetReapply(ctx, d.ID)
	switch {
	case errors.Is(err, store.ErrNotFound) && d.RulesVersion == 0:
		return nil, nil
	case errors.Is(err, store.ErrNotFound):
		job = store.Reapply{}
	case err != nil:
		return nil, err
	}
	if job.RulesVersion < d.RulesVersion {
		return &reapplyJSON{State: "pending", RulesVersion: d.RulesVersion}, nil
	}
	out := &reapplyJSON{State: "running", RulesVersion: job.RulesVersion, Done: job.Done,
		Total: max(job.Total, job.Done), Failed: job.Failed, StartedAt: timePtr(job.Started)}
	if !job.Finished.IsZero() {
		out.State, out.FinishedAt = "done", timePtr(job.Finished)
	}
	return out, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// rulesAnswer is a canonical rules document with the re-application's
// progress as its last key (omitted when there is none).
func rulesAnswer(canonical []byte, progress *reapplyJSON) []byte {
	if progress == nil {
		return canonical
	}
	b, _ := json.Marshal(progress) // strings, numbers and times always marshal
	out := bytes.TrimSuffix(canonical, []byte("}"))
	out = append(out[:len(out):len(out)], []byte(`,"`+reapplyKey+`":`)...)
	return append(append(out, b...), '}')
}

// withoutReapply drops the read-only progress key from a rules document,
// so that the answer of a GET can be PUT back. A document that is not an
// object is returned as it is, for Parse to refuse.
func withoutReapply(doc []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(doc, &top) != nil {
		return doc
	}
	if _, ok := top[reapplyKey]; !ok {
		return doc
	}
	delete(top, reapplyKey)
	b, err := json.Marshal(top)
	if err != nil {
		return doc
	}
	return b
}

// changesContacts reports whether replacing the rules old (stored; nil:
// the defaults) by next changes what contacts are derived: everything but
// visibility, which applies when contacts are read.
func changesContacts(old []byte, next mapping.Rules) bool {
	before, err := mapping.Parse(old)
	if err != nil {
		return true // stored rules of an incompatible version
	}
	before.Visibility, next.Visibility = mapping.Visibility{}, mapping.Visibility{}
	return !bytes.Equal(before.Marshal(), next.Marshal())
}
