package config

import "strings"

// Telemetry is the HTTP endpoints (health, readiness, metrics) and the logs.
type Telemetry struct {
	HTTPAddr  string `env:"HTTP_ADDR, default=:8080"`
	LogLevel  string `env:"LOG_LEVEL, default=info"`
	LogFormat string `env:"LOG_FORMAT, default=json"`
}

// Validate lists what is wrong with the log settings.
func (t Telemetry) Validate() Problems {
	var p Problems
	switch strings.ToLower(t.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, problemf("LOG_LEVEL %q is unknown; use debug, info, warn or error", t.LogLevel))
	}
	switch strings.ToLower(t.LogFormat) {
	case "json", "text":
	default:
		p = append(p, problemf("LOG_FORMAT %q is unknown; use json or text", t.LogFormat))
	}
	return p
}
