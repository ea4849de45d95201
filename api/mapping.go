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

// getMapping answers the directory's mapping rules document (Mapping).
func (a *Admin) getMapping(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	doc, err := a.Mapping(r.Context(), id)
	if err != nil {
		a.fail(w, r, "get mapping", err, "directory_id", id)
		return
	}
	writeJSONBytes(w, http.StatusOK, doc)
}

// Mapping returns the directory's mapping rules document in canonical
// form: a directory without stored rules shows the defaults.
func (a *Admin) Mapping(ctx context.Context, directoryID string) ([]byte, error) {
	d, err := a.cfg.Store.GetDirectory(ctx, directoryID)
	if err != nil {
		return nil, storeProblem(err, "directory not found")
	}
	rules, err := mapping.Parse(d.Mapping)
	if err != nil {
		// ReplaceMapping stores only documents Parse accepted; a failure
		// here is a stored document from an incompatible version.
		return nil, fmt.Errorf("stored mapping rules do not parse (directory %s): %w", directoryID, err)
	}
	return rules.Marshal(), nil
}

// ReplaceMapping replaces the directory's mapping rules with a valid
// document and returns it in the canonical form it is stored in. A
// refusal lists every problem (Problem.Problems). The rules apply to
// writes from the next SCIM request on; stored contacts are not
// rewritten.
func (a *Admin) ReplaceMapping(ctx context.Context, directoryID string, doc []byte) ([]byte, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(doc), []byte("{")) {
		return nil, newProblem(http.StatusBadRequest, "malformed_json", "request body must be a JSON object (the mapping rules document)")
	}
	rules, err := mapping.Parse(doc)
	if err != nil {
		problems := problemList(err)
		p := newProblem(http.StatusBadRequest, "invalid_mapping", "the mapping rules are invalid: "+strings.Join(problems, "; "))
		p.Problems = problems
		return nil, p
	}
	canonical := rules.Marshal()
	actx, audit := store.Audited(ctx, store.AuditMappingReplaced, nil)
	_, err = a.cfg.Store.UpdateDirectory(actx, directoryID, func(d store.Directory) (store.Directory, error) {
		audit.SetDetails(map[string]any{"changed": changedRules(d.Mapping, canonical), "rules": json.RawMessage(canonical)})
		d.Mapping = canonical
		return d, nil
	})
	if err != nil {
		return nil, storeProblem(err, "directory not found")
	}
	a.log.InfoContext(ctx, "mapping rules replaced", "directory_id", directoryID)
	return canonical, nil
}

// putMapping replaces the directory's mapping rules (ReplaceMapping).
func (a *Admin) putMapping(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	var doc json.RawMessage
	if !a.decode(w, r, &doc) {
		return
	}
	canonical, err := a.ReplaceMapping(r.Context(), id, doc)
	if err != nil {
		a.fail(w, r, "replace mapping", err)
		return
	}
	writeJSONBytes(w, http.StatusOK, canonical)
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
