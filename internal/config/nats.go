package config

import (
	"strings"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
)

// NATSOptions are the connection settings of the NATS_* variables for a client named name:
// the same for the service and for the operators' tools, secrets given as NAME_FILE included.
func (c Config) NATSOptions(name string) broker.ConnectOptions {
	return broker.ConnectOptions{
		URL: c.NATSURL, Name: name,
		CredsFile: c.NATSCreds, NKeySeedFile: c.NATSNKey, User: c.NATSUser, Password: c.NATSPassword,
		Token: c.NATSToken, TLSCA: c.NATSTLSCA, TLSCert: c.NATSTLSCert, TLSKey: c.NATSTLSKey,
	}
}

// Concerning returns the problems about the variables whose names start with prefix (every
// problem names its variable first): a command that needs only some variables reports only
// theirs.
func (p Problems) Concerning(prefix string) Problems {
	var out Problems
	for _, s := range p {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}
