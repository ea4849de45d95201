package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds scimd's Prometheus collectors on a registry of its own, so
// that tests (and several handlers in one process) never share state.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_http_requests_total",
			Help: "HTTP requests by route template, method, status and SCIM directory.",
		}, []string{"route", "method", "status", "directory"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_http_request_duration_seconds",
			Help:    "HTTP request duration by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
		m.duration,
	)
	return m
}

// registerer is where other components (the presence poller) register
// their collectors, so that /metrics serves them too.
func (m *metrics) registerer() prometheus.Registerer { return m.reg }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe records one request. Labels must stay bounded: route is a
// template, never a raw path, and directory is set only for authenticated
// SCIM requests (see directoryLabel).
func (m *metrics) observe(route, method string, status int, directory string, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status), directory).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel folds unknown methods into one label value, since a client
// chooses the method freely.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	default:
		return "OTHER"
	}
}
