package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTelemetryValidate(t *testing.T) {
	t.Parallel()
	if p := (Telemetry{LogLevel: "WARN", LogFormat: "text"}).Validate(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	want := Problems{
		`LOG_LEVEL "loud" is unknown; use debug, info, warn or error`,
		`LOG_FORMAT "xml" is unknown; use json or text`,
	}
	if diff := cmp.Diff(want, (Telemetry{LogLevel: "loud", LogFormat: "xml"}).Validate()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
