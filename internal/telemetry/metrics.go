package telemetry

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// newMetrics builds a meter provider whose only reader is a Prometheus
// exporter registered on a private registry, and the handler that serves that
// registry. Metrics are pulled by /metrics; OTEL_METRICS_EXPORTER is not used.
func newMetrics(res *resource.Resource) (*sdkmetric.MeterProvider, http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, fmt.Errorf("registering the Go runtime collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, fmt.Errorf("registering the process collector: %w", err)
	}
	// Without scope labels: one service's dashboards gain nothing from otel_scope_name,
	// otel_scope_version and otel_scope_schema_url on every series.
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, fmt.Errorf("creating the Prometheus metrics exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A broken metric must not hide the others from the scraper.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return mp, h, nil
}
