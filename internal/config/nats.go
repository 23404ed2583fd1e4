package config

import "github.com/amplience-ingest/asset-ingest-consumer/internal/broker"

// NATS is the connection to NATS: the same for the service and for the operators' tools.
type NATS struct {
	URL      string `env:"NATS_URL"`
	Creds    string `env:"NATS_CREDS"`
	NKey     string `env:"NATS_NKEY"`
	User     string `env:"NATS_USER"`
	Password string `env:"NATS_PASSWORD" secret:"true"`
	Token    string `env:"NATS_TOKEN" secret:"true"`
	TLSCA    string `env:"NATS_TLS_CA"`
	TLSCert  string `env:"NATS_TLS_CERT"`
	TLSKey   string `env:"NATS_TLS_KEY"`
}

// Validate lists what is wrong with the connection settings that are set. An empty URL is
// not a problem here: the service requires one (see [Config.Validate]), the operators' tools
// default to the dev server's.
func (n NATS) Validate() Problems {
	var p Problems
	if n.URL != "" {
		if err := broker.CheckURL(n.URL); err != nil {
			p = append(p, err.Error())
		}
	}
	if n.User != "" && n.Password == "" {
		p = append(p, "NATS_USER is set but NATS_PASSWORD is empty; set NATS_PASSWORD (or NATS_PASSWORD_FILE)")
	}
	if n.Password != "" && n.User == "" {
		p = append(p, "NATS_PASSWORD is set but NATS_USER is empty; set NATS_USER")
	}
	if (n.TLSCert == "") != (n.TLSKey == "") {
		p = append(p, "NATS_TLS_CERT and NATS_TLS_KEY go together; set both for a client certificate, or neither")
	}
	if n.Creds != "" && n.NKey != "" {
		p = append(p, "NATS_CREDS and NATS_NKEY are both set; a connection uses one of them")
	}
	return p
}

// Options are the connection options of these settings for a client named name.
func (n NATS) Options(name string) broker.ConnectOptions {
	return broker.ConnectOptions{
		URL: n.URL, Name: name,
		CredsFile: n.Creds, NKeySeedFile: n.NKey, User: n.User, Password: n.Password,
		Token: n.Token, TLSCA: n.TLSCA, TLSCert: n.TLSCert, TLSKey: n.TLSKey,
	}
}
