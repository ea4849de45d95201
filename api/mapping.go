package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// getMapping answers the directory's mapping rules document in canonical
// form (a directory without stored rules shows the defaults); "reapply"
// follows, the progress of the rules' re-application to stored contacts.
func (a *Admin) getMapping(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	doc, d, err := a.mapping(r.Context(), id)
	if err != nil {
		a.fail(w, r, "get mapping", err, "directory_id", id)
		return
	}
	progress, err := a.reapplyOf(r.Context(), d)
	if err != nil {
		a.storeError(w, r, "get mapping", err)
		return
	}
	writeJSONBytes(w, http.StatusOK, rulesAnswer(doc, progress))
}

// Mapping returns the directory's mapping rules document in canonical
// form: a directory without stored rules shows the defaults.
func (a *Admin) Mapping(ctx context.Context, directoryID string) ([]byte, error) {
	doc, _, err := a.mapping(ctx, directoryID)
	return doc, err
}

// mapping returns the directory's canonical rules document and the
// directory it read them from.
func (a *Admin) mapping(ctx context.Context, directoryID string) ([]byte, store.Directory, error) {
	d, err := a.cfg.Store.GetDirectory(ctx, directoryID)
	if err != nil {
		return nil, d, storeProblem(err, "directory not found")
	}
	rules, err := mapping.Parse(d.Mapping)
	if err != nil {
		// ReplaceMapping stores only documents Parse accepted; a failure
		// here is a stored document from an incompatible version.
		return nil, d, fmt.Errorf("stored mapping rules do not parse (directory %s): %w", directoryID, err)
	}
	return rules.Marshal(), d, nil
}

// ReplaceMapping replaces the directory's mapping rules with a valid
// document and returns it in the canonical form it is stored in. A
// refusal lists every problem (Problem.Problems). The rules apply to
// writes from the next SCIM request on; a change of what contacts are
// derived (anything but visibility) moves the directory's rules version
// and starts the job that rebuilds the stored contacts under the new
// rules (package reapply).
func (a *Admin) ReplaceMapping(ctx context.Context, directoryID string, doc []byte) ([]byte, error) {
	canonical, _, err := a.replaceMapping(ctx, directoryID, doc)
	return canonical, err
}

func (a *Admin) replaceMapping(ctx context.Context, directoryID string, doc []byte) ([]byte, store.Directory, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(doc), []byte("{")) {
		return nil, store.Directory{}, newProblem(http.StatusBadRequest, "malformed_json", "request body must be a JSON object (the mapping rules document)")
	}
	rules, err := mapping.Parse(withoutReapply(doc))
	if err != nil {
		problems := problemList(err)
		p := newProblem(http.StatusBadRequest, "invalid_mapping", "the mapping rules are invalid: "+strings.Join(problems, "; "))
		p.Problems = problems
		return nil, store.Directory{}, p
	}
	canonical := rules.Marshal()
	actx, audit := store.Audited(ctx, store.AuditMappingReplaced, nil)
	var reapply bool
	d, err := a.cfg.Store.UpdateDirectory(actx, directoryID, func(d store.Directory) (store.Directory, error) {
		audit.SetDetails(map[string]any{"changed": changedRules(d.Mapping, canonical), "rules": json.RawMessage(canonical)})
		if reapply = changesContacts(d.Mapping, rules); reapply {
			d.RulesVersion++
		}
		d.Mapping = canonical
		return d, nil
	})
	if err != nil {
		return nil, store.Directory{}, storeProblem(err, "directory not found")
	}
	a.log.InfoContext(ctx, "mapping rules replaced", "directory_id", directoryID, "reapply", reapply)
	if reapply {
		// The runner would start the job by itself; starting it here makes
		// the answer show it.
		if _, err := a.cfg.Store.StartReapply(ctx, directoryID); err != nil {
			a.log.WarnContext(ctx, "starting the rules' re-application failed; the runner retries", "directory_id", directoryID, "err", err)
		}
		if a.cfg.RulesChanged != nil {
			a.cfg.RulesChanged(directoryID)
		}
	}
	return canonical, d, nil
}

// putMapping replaces the directory's mapping rules (ReplaceMapping) and
// answers them with the re-application's progress.
func (a *Admin) putMapping(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	var doc json.RawMessage
	if !a.decode(w, r, &doc) {
		return
	}
	canonical, d, err := a.replaceMapping(r.Context(), id, doc)
	if err != nil {
		a.fail(w, r, "replace mapping", err)
		return
	}
	progress, err := a.reapplyOf(r.Context(), d)
	if err != nil {
		a.log.WarnContext(r.Context(), "reading the rules' re-application failed", "directory_id", id, "err", err)
	}
	writeJSONBytes(w, http.StatusOK, rulesAnswer(canonical, progress))
}

// changedRules lists the top-level keys of the rules document whose
// value differs between the stored rules (nil: the defaults) and the
// canonical new ones, sorted: the audit trail's summary of the change,
// beside the new document.
func changedRules(old, canonical []byte) []string {
	var before, after map[string]json.RawMessage
	if rules, err := mapping.Parse(old); err == nil {
		_ = json.Unmarshal(rules.Marshal(), &before)
	} // else: stored rules of an incompatible version; every key counts as changed
	_ = json.Unmarshal(canonical, &after) // Marshal's own output
	changed := []string{}
	for k, v := range after {
		if b, ok := before[k]; !ok || !bytes.Equal(compactJSON(b), compactJSON(v)) {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// problemList flattens the problems mapping.Parse joined (errors.Join)
// into one error, one entry each.
func problemList(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	walk(err)
	if len(out) == 0 {
		out = []string{"the mapping rules are invalid"}
	}
	return out
}
