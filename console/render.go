package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

//go:embed templates static
var files embed.FS

// Page is what every template receives: the layout's parts (title,
// session, navigation, messages) and the page's own Data.
type Page struct {
	Title string
	// Session is the signed-in session, nil on the sign-in pages.
	Session *Session
	// Dir is the directory of a directory page: the layout then shows
	// its name and its pages' navigation.
	Dir *api.Directory
	// Active is the Key of the directory page shown, for the navigation.
	Active string
	Nav    []NavItem
	// Flash says that a change succeeded; Error why one did not.
	Flash, Error string
	// Message and Next are the text and the way on of message.html.
	Message string
	Next    *Link
	Data    any
}

// Link is a labelled URL.
type Link struct{ Label, Href string }

// NavItem is one entry of a directory's navigation.
type NavItem struct {
	Label, Href string
	Active      bool
}

// DirectoryPage is one page of a directory's navigation. Only pages that
// exist are listed: a new page adds its entry to defaultDirectoryPages
// and its route to Register.
type DirectoryPage struct {
	Key   string // Page.Active of the page
	Label string
	// Path follows /console/directories/{id}: "" for the overview.
	Path string
	// SetupLink shows the page to a setup link's session too; such a
	// route must then be registered with the directory access.
	SetupLink bool
}

func defaultDirectoryPages() []DirectoryPage {
	return []DirectoryPage{
		{Key: "overview", Label: "Overview", Path: "", SetupLink: true},
		{Key: "setup", Label: "Provisioning setup", Path: "/setup", SetupLink: true},
		{Key: "settings", Label: "Settings", Path: "/settings", SetupLink: false},
		{Key: "synclog", Label: "Sync log", Path: "/sync-log", SetupLink: true},
		{Key: "contacts", Label: "Contacts", Path: "/contacts", SetupLink: false},
		{Key: "presence", Label: "Teams presence", Path: "/presence", SetupLink: true},
		{Key: "apikeys", Label: "API keys", Path: "/api-keys", SetupLink: false},
	}
}

// pages are the parsed templates: each page with the layout and the
// partials.
type pages struct {
	byName map[string]*template.Template
}

func mustParsePages() *pages {
	base := template.Must(template.New("").Funcs(templateFuncs).ParseFS(files, "templates/layout.html", "templates/partials/*.html"))
	names, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil || len(names) == 0 {
		panic(fmt.Sprintf("console: no page templates: %v", err))
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		t := template.Must(template.Must(base.Clone()).ParseFS(files, n))
		p.byName[path.Base(n)] = t
	}
	return p
}

var templateFuncs = template.FuncMap{
	"static": staticURL,
	// args lists its arguments, for partials that take several.
	"args": func(s ...string) []string { return s },
	// when formats a time for people, in UTC; the zero time is "never".
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	},
}

// render writes a page with status 200.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, p *Page) {
	c.renderStatus(w, r, http.StatusOK, name, p)
}

// renderStatus writes a page. Pages are never cached: they may hold a
// secret shown once, and they change with every write.
func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, p *Page) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.log.ErrorContext(r.Context(), "console: no such template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if p.Session == nil {
		p.Session = SessionFrom(r.Context())
	}
	if p.Dir == nil {
		if d := DirectoryFrom(r.Context()); d.ID != "" {
			p.Dir = &d
		}
	}
	if p.Dir != nil && p.Session != nil {
		p.Nav = c.nav(p.Session, p.Dir.ID, p.Active)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.ErrorContext(r.Context(), "console: render page", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// nav lists the directory's pages the session may open.
func (c *Console) nav(s *Session, dirID, active string) []NavItem {
	var out []NavItem
	for _, dp := range c.dirPages {
		if s.Scoped() && !dp.SetupLink {
			continue
		}
		out = append(out, NavItem{Label: dp.Label, Href: Prefix + "/directories/" + dirID + dp.Path, Active: dp.Key == active})
	}
	return out
}

// message renders a page that only says something.
func (c *Console) message(w http.ResponseWriter, r *http.Request, status int, title, msg string, next *Link) {
	c.renderStatus(w, r, status, "message.html", &Page{Title: title, Message: msg, Next: next})
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	c.message(w, r, http.StatusForbidden, "Not allowed", msg, &Link{Label: "Go to the console", Href: Prefix + "/"})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.message(w, r, http.StatusNotFound, "Page not found", "There is no such page in the console.",
		&Link{Label: "Go to the console", Href: Prefix + "/"})
}

// fail answers an operation's error as a page: a refusal with its
// message, anything else as an internal error.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	if status, msg, ok := problemMessage(err); ok {
		title := "Not done"
		if status == http.StatusNotFound {
			title = "Not found"
		}
		c.message(w, r, status, title, msg, &Link{Label: "Go to the console", Href: Prefix + "/"})
		return
	}
	c.internalError(w, r, op, err)
}

// internalError logs err and answers without it.
func (c *Console) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		c.log.WarnContext(r.Context(), "console: "+op+" failed: database unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		c.message(w, r, http.StatusServiceUnavailable, "Try again in a moment",
			"The database is unavailable right now; nothing was changed. Try again in a moment.", nil)
		return
	}
	c.log.ErrorContext(r.Context(), "console: "+op+" failed", "err", err)
	c.message(w, r, http.StatusInternalServerError, "Something went wrong",
		"scimd could not do this (an internal error, logged for the operator). Try again in a moment.", nil)
}

// routeDirectoryID is the {id} of a directory route. An id that is not
// a UUID names no directory: it reads as the empty id, which none has.
func routeDirectoryID(r *http.Request) (string, bool) {
	id, ok := mux.Vars(r)["id"]
	if ok && uuid.Validate(id) != nil {
		return "00000000-0000-0000-0000-000000000000", true
	}
	return id, ok
}

// Static files: served with a content hash in their URL, so they can be
// cached for a long time and still change with a new scimd.
var staticHashes = func() map[string]string {
	m := map[string]string{}
	names, _ := fs.Glob(files, "static/*")
	for _, n := range names {
		b, _ := files.ReadFile(n)
		sum := sha256.Sum256(b)
		m[path.Base(n)] = hex.EncodeToString(sum[:6])
	}
	return m
}()

func staticURL(name string) string {
	return Prefix + "/static/" + name + "?v=" + staticHashes[name]
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["file"]
	if _, ok := staticHashes[name]; !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	if r.URL.Query().Get("v") == staticHashes[name] {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}
