package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// failureWindow is how far back the directories list counts refused
// SCIM writes.
const failureWindow = 24 * time.Hour

// Health is a directory's mark in the list: ok (the green check), warn
// (something needs the admin) or idle (Entra has not written yet).
type Health struct {
	Class, Label string
}

func healthOf(o store.DirectoryOverview) Health {
	switch {
	case o.Failures > 0:
		return Health{"warn", strconv.Itoa(o.Failures) + " failed in 24 h"}
	case o.PresenceState == store.PresenceNeedsConsent || o.PresenceState == store.PresenceNeedsAdmin || o.PresenceState == store.PresenceError:
		return Health{"warn", "Presence needs attention"}
	case o.LastSCIMChange.IsZero():
		return Health{"idle", "Waiting for Entra"}
	}
	return Health{"ok", "Healthy"}
}

// presenceLabel words a presence state as the console shows it.
func presenceLabel(state string) string {
	switch state {
	case "", presence.NotConnected:
		return "Not connected"
	case store.PresenceConnected:
		return "Connected"
	case store.PresenceNeedsConsent:
		return "Needs admin consent"
	case store.PresenceNeedsAdmin:
		return "Needs the app's admin"
	case store.PresenceRevoked:
		return "Removed"
	case store.PresenceError:
		return "Error"
	}
	return state
}

type directoryRow struct {
	Overview store.DirectoryOverview
	Presence string
	Health   Health
}

// directoriesPage lists every directory with its figures, read by one
// store query.
func (c *Console) directoriesPage(w http.ResponseWriter, r *http.Request) {
	ovs, err := c.store.DirectoryOverviews(r.Context(), c.cfg.Now().Add(-failureWindow), "")
	if err != nil {
		c.internalError(w, r, "list directories", err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	data := directoriesData{Query: q, Total: len(ovs), Rows: make([]directoryRow, 0, len(ovs))}
	for _, o := range ovs {
		if q != "" && !strings.Contains(store.Fold(o.Directory.Name), store.Fold(q)) && o.Directory.ID != q {
			continue
		}
		data.Rows = append(data.Rows, directoryRow{Overview: o, Presence: presenceLabel(o.PresenceState), Health: healthOf(o)})
	}
	c.render(w, r, "directories.html", &Page{Title: "Directories", Flash: flash(r), Data: data})
}

// directoriesData is the directories list, filtered by Query (a part of
// the name, or an id).
type directoriesData struct {
	Query string
	Total int
	Rows  []directoryRow
}

// flash is the message a redirect after a change carries: one of a few
// fixed texts, chosen by key, so that a link cannot make the console say
// anything else.
func flash(r *http.Request) string {
	return flashes[r.URL.Query().Get("done")]
}

var flashes = map[string]string{
	"renamed":      "The directory was renamed.",
	"deleted":      "The directory was deleted.",
	"deleting":     "The directory is being deleted: it is gone from every API already, and its data follows in the background.",
	"link-revoked": "The setup link was revoked: it no longer works, and whoever opened it is signed out.",
	// A directory's pages (pages.go and beside it).
	"key-revoked":    "The API key was revoked: CX clients that use it are refused from now on.",
	"settings-saved": "The settings were saved. They apply to what Entra sends from now on; who CX sees changes at once.",
}

type newDirectoryData struct {
	Name string
}

func (c *Console) newDirectoryPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "new.html", &Page{Title: "New directory", Data: newDirectoryData{}})
}

// createDirectory is the wizard's first step: the directory, then its
// Tenant URL and Secret Token, shown once.
func (c *Console) createDirectory(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	d, err := c.admin.CreateDirectory(r.Context(), name)
	if err != nil {
		if _, msg, ok := problemMessage(err); ok {
			c.renderStatus(w, r, http.StatusBadRequest, "new.html", &Page{Title: "New directory", Error: msg, Data: newDirectoryData{Name: name}})
			return
		}
		c.internalError(w, r, "create directory", err)
		return
	}
	c.renderCredentials(w, r, d, true)
}

// credentialsData is the wizard's Entra step: what to paste in
// Provisioning → Admin Credentials, and the attribute mappings.
type credentialsData struct {
	TenantURL string
	// Token is the Secret Token, set only in the answer that made it.
	Token string
	// Created: the directory is new (the wizard's first pass).
	Created bool
	// PreviousValidUntil is when the replaced token stops working.
	PreviousValidUntil *time.Time
	Graces             []choice
	UserMappings       []attributeMapping
	GroupMappings      []attributeMapping
}

func (c *Console) renderCredentials(w http.ResponseWriter, r *http.Request, d api.Directory, created bool) {
	data := credentialsData{
		TenantURL: d.SCIMBaseURL, Token: d.SCIMToken, Created: created, Graces: graceChoices,
		UserMappings: userMappings, GroupMappings: groupMappings, PreviousValidUntil: d.PreviousTokenValidUntil,
	}
	c.render(w, r, "setup.html", &Page{Title: "Connect Microsoft Entra ID", Dir: &d, Active: "setup", Data: data})
}

// credentialsPage is the wizard's Entra step without a token: the token
// is never shown again, only replaced (rotate).
func (c *Console) credentialsPage(w http.ResponseWriter, r *http.Request) {
	c.renderCredentials(w, r, DirectoryFrom(r.Context()), false)
}

// choice is an option of a select.
type choice struct {
	Value, Label string
	Selected     bool
}

// graceChoices are how long a rotation keeps the replaced token working.
var graceChoices = []choice{
	{"0", "no longer: it stops now", false},
	{"3600", "1 more hour", true},
	{"86400", "24 more hours", false},
	{"604800", "7 more days", false},
}

// rotateToken replaces the Secret Token and shows the new one, once.
func (c *Console) rotateToken(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	secs, err := strconv.Atoi(r.PostFormValue("grace"))
	if err != nil {
		secs = -1 // RotateToken words the refusal
	}
	out, err := c.admin.RotateToken(r.Context(), d.ID, time.Duration(secs)*time.Second)
	if err != nil {
		c.fail(w, r, "rotate token", err)
		return
	}
	c.renderCredentials(w, r, out, false)
}

// overviewData is a directory's overview page.
type overviewData struct {
	// Figures are the list's figures of this directory.
	Figures       store.DirectoryOverview
	Health        Health
	Presence      *presence.Status
	PresenceLabel string
	SetupLinks    []api.SetupLink
	// NewLink is the setup link just created: its URL is shown once.
	NewLink  *api.SetupLink
	LinkTTLs []choice
	Graces   []choice
}

// linkTTLs are how long a new setup link works.
var linkTTLs = []choice{
	{"3600", "1 hour", false},
	{"86400", "24 hours", true},
	{"604800", "7 days", false},
	{"2592000", "30 days", false},
}

func (c *Console) overviewPage(w http.ResponseWriter, r *http.Request) {
	c.renderOverview(w, r, http.StatusOK, "", nil)
}

func (c *Console) renderOverview(w http.ResponseWriter, r *http.Request, status int, errMsg string, newLink *api.SetupLink) {
	ctx := r.Context()
	d := DirectoryFrom(ctx)
	data := overviewData{NewLink: newLink, LinkTTLs: linkTTLs, Graces: graceChoices}
	ovs, err := c.store.DirectoryOverviews(ctx, c.cfg.Now().Add(-failureWindow), d.ID)
	if err != nil {
		c.internalError(w, r, "read directory figures", err)
		return
	}
	if len(ovs) == 1 {
		data.Figures, data.Health = ovs[0], healthOf(ovs[0])
	}
	if c.admin.PresenceAvailable() {
		st, err := c.admin.PresenceStatus(ctx, d.ID)
		if err != nil {
			c.fail(w, r, "read presence status", err)
			return
		}
		data.Presence = &st
		data.PresenceLabel = presenceLabel(st.State)
	}
	if s := SessionFrom(ctx); s != nil && !s.Scoped() {
		links, err := c.admin.ListSetupLinks(ctx, d.ID)
		if err != nil {
			c.fail(w, r, "list setup links", err)
			return
		}
		data.SetupLinks = links
	}
	c.renderStatus(w, r, status, "overview.html", &Page{Title: d.Name, Active: "overview", Flash: flash(r), Error: errMsg, Data: data})
}

func (c *Console) renameDirectory(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	if _, err := c.admin.RenameDirectory(r.Context(), d.ID, r.PostFormValue("name")); err != nil {
		if _, msg, ok := problemMessage(err); ok {
			c.renderOverview(w, r, http.StatusBadRequest, msg, nil)
			return
		}
		c.internalError(w, r, "rename directory", err)
		return
	}
	http.Redirect(w, r, Prefix+"/directories/"+d.ID+"?done=renamed", http.StatusSeeOther)
}

type deleteData struct {
	Confirm string
}

// deletePage asks for the directory's name before deleting it.
func (c *Console) deletePage(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	c.render(w, r, "delete.html", &Page{Title: "Delete " + d.Name, Active: "overview", Data: deleteData{}})
}

func (c *Console) deleteDirectory(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	confirm := r.PostFormValue("confirm")
	if strings.TrimSpace(confirm) != d.Name {
		c.renderStatus(w, r, http.StatusBadRequest, "delete.html", &Page{Title: "Delete " + d.Name, Active: "overview",
			Error: "Type the directory's name exactly as shown to delete it.", Data: deleteData{Confirm: confirm}})
		return
	}
	done, err := c.admin.DeleteDirectory(r.Context(), d.ID)
	if err != nil {
		c.fail(w, r, "delete directory", err)
		return
	}
	key := "deleted"
	if !done {
		key = "deleting"
	}
	http.Redirect(w, r, Prefix+"/directories?done="+key, http.StatusSeeOther)
}

func (c *Console) createSetupLink(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	secs, err := strconv.Atoi(r.PostFormValue("ttl"))
	if err != nil {
		secs = -1 // CreateSetupLink words the refusal
	}
	l, err := c.admin.CreateSetupLink(r.Context(), d.ID, time.Duration(secs)*time.Second)
	if err != nil {
		if _, msg, ok := problemMessage(err); ok {
			c.renderOverview(w, r, http.StatusBadRequest, msg, nil)
			return
		}
		c.internalError(w, r, "create setup link", err)
		return
	}
	c.renderOverview(w, r, http.StatusOK, "", &l)
}

func (c *Console) revokeSetupLink(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	if err := c.admin.RevokeSetupLink(r.Context(), d.ID, mux.Vars(r)["linkId"]); err != nil {
		c.fail(w, r, "revoke setup link", err)
		return
	}
	http.Redirect(w, r, Prefix+"/directories/"+d.ID+"?done=link-revoked", http.StatusSeeOther)
}
