package console

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/scimd/scimd/mapping"
)

// The settings page edits the directory's mapping rules document (README
// "Mapping rules") as a form: every key of the document has its fields.
// The form is turned into the document and saved through
// api.Admin.ReplaceMapping, so that a refusal lists the API's own
// problems, each shown beside the field it names.

// contactFieldRows are the rules' contact fields in the form's order,
// worded as Entra's attribute mappings name them.
var contactFieldRows = []struct{ Key, Label, Hint string }{
	{"login", "Login", "The user's sign-in name; Entra's userPrincipalName arrives as userName."},
	{"objectId", "Entra object id", "Teams presence needs it: map objectId to externalId in Entra."},
	{"phone", "Phone (caller-ID)", "The number caller-ID matches."},
	{"givenName", "Given name", ""},
	{"familyName", "Surname", ""},
	{"displayName", "Display name", ""},
	{"email", "Email", ""},
	{"title", "Job title", ""},
	{"department", "Department", ""},
}

// requiredChoices are the names the rules' required list takes.
var requiredChoices = []struct{ Key, Label string }{
	{"userName", "userName (login)"},
	{"externalId", "externalId (Entra object id)"},
	{"phone", "Phone number"},
	{"name", "Given name or surname"},
	{"email", "Email"},
}

var customTypes = []choice{{"text", "Text", false}, {"number", "Number", false}, {"boolean", "Yes/no", false}, {"date", "Date", false}}

// settingsForm is the form's state: from the stored rules, or as the
// browser sent it after a refusal.
type settingsForm struct {
	PhonePolicy, DefaultRegion string
	Required                   []requiredBox
	Fields                     []fieldRow
	Custom                     []customRow
	// SyncGroups: only members of OnlyGroups are shown (else all users).
	SyncGroups                         bool
	OnlyGroups, ExcludeGroups, Domains string
	// Problems are the refusal's problems by the form part they name:
	// "phonePolicy", "defaultRegion", "required", "onlyGroups",
	// "excludeGroups", "domains"; fields and custom rows hold their own.
	Problems map[string][]string
}

type requiredBox struct {
	Key, Label string
	Checked    bool
}

type fieldRow struct {
	Key, Label, Hint, Default, Value string
	Problems                         []string
}

// customRow is a row of the custom fields table. Slot is its position
// among the posted rows, which its checkboxes carry as their value
// ("__N__" in the template row that "Add a field" copies).
type customRow struct {
	Slot               string
	Existing           bool // a field of the document, which can be removed
	Name, Source, Type string
	Overwrite          bool
	Types              []choice
	Problems           []string
}

func formOf(r mapping.Rules) *settingsForm {
	f := &settingsForm{PhonePolicy: r.PhonePolicy, DefaultRegion: r.DefaultRegion, Problems: map[string][]string{}}
	for _, rc := range requiredChoices {
		f.Required = append(f.Required, requiredBox{Key: rc.Key, Label: rc.Label, Checked: slices.Contains(r.Required, rc.Key)})
	}
	defaults := mapping.Defaults().Fields
	for _, cf := range contactFieldRows {
		f.Fields = append(f.Fields, fieldRow{Key: cf.Key, Label: cf.Label, Hint: cf.Hint, Default: defaults[cf.Key], Value: r.Fields[cf.Key]})
	}
	for i, c := range r.CustomFields {
		f.Custom = append(f.Custom, customRow{Slot: strconv.Itoa(i), Existing: true, Name: c.Name, Source: c.Source, Type: c.Type, Overwrite: c.Overwrite, Types: selected(customTypes, c.Type)})
	}
	v := r.Visibility
	f.SyncGroups = len(v.OnlyGroups) > 0
	f.OnlyGroups, f.ExcludeGroups, f.Domains = strings.Join(v.OnlyGroups, "\n"), strings.Join(v.ExcludeGroups, "\n"), strings.Join(v.Domains, "\n")
	return f
}

// document is the rules document the form says, and the form as sent
// (for a refusal's page). A choice the form itself cannot express is a
// problem of its own (groups to sync, none listed).
func documentOf(r *http.Request) ([]byte, *settingsForm, []string) {
	_ = r.ParseForm() // the guard parsed it already
	pf := r.PostForm
	f := &settingsForm{PhonePolicy: pf.Get("phonePolicy"), DefaultRegion: strings.TrimSpace(pf.Get("defaultRegion")), Problems: map[string][]string{}}
	doc := map[string]any{"phonePolicy": f.PhonePolicy, "defaultRegion": f.DefaultRegion}

	required := []string{}
	for _, rc := range requiredChoices {
		on := slices.Contains(pf["required"], rc.Key)
		f.Required = append(f.Required, requiredBox{Key: rc.Key, Label: rc.Label, Checked: on})
		if on {
			required = append(required, rc.Key)
		}
	}
	doc["required"] = required

	defaults := mapping.Defaults().Fields
	fields := map[string]string{}
	for _, cf := range contactFieldRows {
		v := strings.TrimSpace(pf.Get("field." + cf.Key))
		fields[cf.Key] = v
		f.Fields = append(f.Fields, fieldRow{Key: cf.Key, Label: cf.Label, Hint: cf.Hint, Default: defaults[cf.Key], Value: v})
	}
	doc["fields"] = fields

	custom := []map[string]any{}
	names, sources, types := pf["cf.name"], pf["cf.source"], pf["cf.type"]
	for i := range names {
		row := strconv.Itoa(i)
		if slices.Contains(pf["cf.remove"], row) {
			continue
		}
		name, source, typ := strings.TrimSpace(names[i]), at(sources, i), at(types, i)
		if name == "" && source == "" {
			continue // an empty row
		}
		over := slices.Contains(pf["cf.overwrite"], row)
		f.Custom = append(f.Custom, customRow{Slot: strconv.Itoa(len(custom)), Existing: true, Name: name, Source: source, Type: typ, Overwrite: over, Types: selected(customTypes, typ)})
		custom = append(custom, map[string]any{"name": name, "source": source, "type": typ, "overwrite": over})
	}
	doc["customFields"] = custom

	var formProblems []string
	f.SyncGroups = pf.Get("sync") == "groups"
	f.OnlyGroups, f.ExcludeGroups, f.Domains = pf.Get("onlyGroups"), pf.Get("excludeGroups"), pf.Get("domains")
	vis := map[string][]string{"excludeGroups": lines(f.ExcludeGroups), "domains": lines(f.Domains)}
	if f.SyncGroups {
		vis["onlyGroups"] = lines(f.OnlyGroups)
		if len(vis["onlyGroups"]) == 0 {
			msg := "Which users: list at least one group under “Only members of these groups”, or choose All users."
			f.Problems["onlyGroups"] = append(f.Problems["onlyGroups"], msg)
			formProblems = append(formProblems, msg)
		}
	}
	doc["visibility"] = vis
	b, _ := json.Marshal(doc) // strings, bools and lists only
	return b, f, formProblems
}

func at(list []string, i int) string {
	if i < len(list) {
		return strings.TrimSpace(list[i])
	}
	return ""
}

// lines splits a textarea into its non-empty lines (commas separate too).
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// problemKey finds the document key a problem of mapping.Parse starts
// with: `fields.phone: …`, `customFields[1].name: …`,
// `visibility.domains[0]: …`.
var problemKey = regexp.MustCompile(`^(phonePolicy|defaultRegion|required|fields\.(\w+)|customFields\[(\d+)\]|visibility\.(onlyGroups|excludeGroups|domains))`)

// place puts each problem beside the form part it names.
func (f *settingsForm) place(problems []string) {
	for _, p := range problems {
		m := problemKey.FindStringSubmatch(p)
		switch {
		case m == nil:
		case m[2] != "":
			for i := range f.Fields {
				if f.Fields[i].Key == m[2] {
					f.Fields[i].Problems = append(f.Fields[i].Problems, p)
				}
			}
		case m[3] != "":
			if i, err := strconv.Atoi(m[3]); err == nil && i < len(f.Custom) {
				f.Custom[i].Problems = append(f.Custom[i].Problems, p)
			}
		case m[4] != "":
			f.Problems[m[4]] = append(f.Problems[m[4]], p)
		default:
			f.Problems[m[1]] = append(f.Problems[m[1]], p)
		}
	}
}

// settingsData is the settings page.
type settingsData struct {
	Form *settingsForm
	// Problems lists every problem of a refused save, as the admin API
	// words them.
	Problems []string
	// Document is the rules document in the advanced view: the stored
	// one, or the one a refused JSON save sent.
	Document string
	// JSONRefused: the problems are the advanced view's.
	JSONRefused bool
	// Blank is the empty row below the fields; NewRow the template row
	// "Add a field" copies.
	Blank, NewRow customRow
	// Reapply is where the progress of re-applying the rules to stored
	// contacts goes, once the server does that (branch reapply: GET
	// …/mapping's progress); nil until then.
	Reapply any
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	doc, err := c.admin.Mapping(r.Context(), d.ID)
	if err != nil {
		c.fail(w, r, "read mapping rules", err)
		return
	}
	rules, err := mapping.Parse(doc)
	if err != nil {
		c.internalError(w, r, "parse mapping rules", err)
		return
	}
	c.renderSettings(w, r, http.StatusOK, &settingsData{Form: formOf(rules), Document: string(doc)})
}

func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, status int, data *settingsData) {
	d := DirectoryFrom(r.Context())
	row := customRow{Type: mapping.TypeText, Overwrite: true, Types: selected(customTypes, mapping.TypeText)}
	data.Blank, data.NewRow = row, row
	data.Blank.Slot, data.NewRow.Slot = strconv.Itoa(len(data.Form.Custom)), "__N__"
	p := &Page{Title: "Settings · " + d.Name, Active: "settings", Flash: flash(r), Data: data}
	if len(data.Problems) > 0 {
		n := strconv.Itoa(len(data.Problems)) + " problems"
		if len(data.Problems) == 1 {
			n = "1 problem"
		}
		p.Error = "The settings were not saved: " + n + " to fix, listed below and beside their fields."
	}
	c.renderStatus(w, r, status, "settings.html", p)
}

// saveSettings saves the form as the directory's mapping rules.
func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request) {
	doc, form, formProblems := documentOf(r)
	if len(formProblems) > 0 {
		c.renderSettings(w, r, http.StatusBadRequest, &settingsData{Form: form, Problems: formProblems, Document: c.storedDocument(r)})
		return
	}
	c.replaceMapping(w, r, doc, func(problems []string) *settingsData {
		form.place(problems)
		return &settingsData{Form: form, Problems: problems, Document: c.storedDocument(r)}
	})
}

// saveSettingsJSON saves the advanced view's document as it is.
func (c *Console) saveSettingsJSON(w http.ResponseWriter, r *http.Request) {
	doc := r.PostFormValue("document")
	c.replaceMapping(w, r, []byte(doc), func(problems []string) *settingsData {
		return &settingsData{Form: c.storedForm(r), Problems: problems, Document: doc, JSONRefused: true}
	})
}

// replaceMapping saves doc through the admin API; a refusal renders the
// page refused makes, with the API's problems.
func (c *Console) replaceMapping(w http.ResponseWriter, r *http.Request, doc []byte, refused func([]string) *settingsData) {
	d := DirectoryFrom(r.Context())
	_, err := c.admin.ReplaceMapping(r.Context(), d.ID, doc)
	if err != nil {
		p := problemOf(err)
		if p == nil || p.Status == http.StatusNotFound {
			c.fail(w, r, "replace mapping rules", err)
			return
		}
		problems := p.Problems
		if len(problems) == 0 {
			problems = []string{p.Message}
		}
		c.renderSettings(w, r, p.Status, refused(problems))
		return
	}
	http.Redirect(w, r, Prefix+"/directories/"+d.ID+"/settings?done=settings-saved", http.StatusSeeOther)
}

// storedDocument is the stored rules document, for the advanced view
// beside a refused form ("" if it cannot be read).
func (c *Console) storedDocument(r *http.Request) string {
	doc, err := c.admin.Mapping(r.Context(), DirectoryFrom(r.Context()).ID)
	if err != nil {
		c.log.WarnContext(r.Context(), "console: read mapping rules", "err", err)
		return ""
	}
	return string(doc)
}

// storedForm is the form of the stored rules, beside a refused document.
func (c *Console) storedForm(r *http.Request) *settingsForm {
	rules, err := mapping.Parse([]byte(c.storedDocument(r)))
	if err != nil {
		rules = mapping.Defaults()
	}
	return formOf(rules)
}
