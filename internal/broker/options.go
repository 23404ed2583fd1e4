package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// authOptions checks the authentication and TLS settings of o and turns them
// into nats options. Every problem is reported, joined into one error whose
// message names the environment variables involved; no message contains a
// secret. Settings that only make sense together (user and password,
// certificate and key) are the configuration's to explain; they are only
// guarded here.
func authOptions(o ConnectOptions) ([]nats.Option, error) {
	var (
		opts     []nats.Option
		problems []error
	)
	fail := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	urlHasUser := false
	if strings.TrimSpace(o.URL) == "" {
		fail("NATS_URL is empty; set it to the NATS server URL, such as nats://nats.example.com:4222")
	}
	for i, p := range strings.Split(o.URL, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, ok := redact.UserInfo(p); ok {
			urlHasUser = true
		}
		if err := checkServerURL(p); err != nil {
			fail("NATS_URL server %d is not a valid URL: %w", i+1, err)
		}
	}

	methods := []string{}
	if urlHasUser {
		methods = append(methods, "user-info in NATS_URL")
	}
	if o.CredsFile != "" {
		methods = append(methods, "NATS_CREDS")
		if err := checkReadable(o.CredsFile); err != nil {
			fail("NATS_CREDS: %w", err)
		} else {
			opts = append(opts, nats.UserCredentials(o.CredsFile))
		}
	}
	if o.NKeySeedFile != "" {
		methods = append(methods, "NATS_NKEY")
		if err := checkReadable(o.NKeySeedFile); err != nil {
			fail("NATS_NKEY: %w", err)
		} else if opt, err := nats.NkeyOptionFromSeed(o.NKeySeedFile); err != nil {
			// nats.go's message names the file, never the seed.
			fail("NATS_NKEY: reading the nkey seed file: %w", err)
		} else {
			opts = append(opts, opt)
		}
	}
	switch {
	case (o.User == "") != (o.Password == ""):
		// The configuration says which variable is missing; this guards other callers.
		fail("User and Password go together")
	case o.User != "":
		methods = append(methods, "NATS_USER/NATS_PASSWORD")
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		methods = append(methods, "NATS_TOKEN")
		opts = append(opts, nats.Token(o.Token))
	}
	if len(methods) > 1 {
		fail("more than one way to authenticate to NATS is set (%s); set only one", strings.Join(methods, ", "))
	}

	tlsCfg, err := tlsConfig(o)
	if err != nil {
		problems = append(problems, err)
	} else if tlsCfg != nil {
		opts = append(opts, nats.Secure(tlsCfg))
	}

	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return opts, nil
}

// checkServerURL reports whether p parses as a NATS server URL, without
// repeating the URL (it may hold credentials) in the error.
func checkServerURL(p string) error {
	if !strings.Contains(p, "://") {
		p = "nats://" + p
	}
	u, err := url.Parse(p)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err
		}
		return errors.New("cannot parse it")
	}
	switch strings.ToLower(u.Scheme) {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("scheme %q is not one of nats, tls, ws or wss; want nats://host:4222", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("it has no host name; want nats://host:4222")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return errors.New("it has a path or query after the host (a missing ':' after the scheme?); want nats://host:4222")
	}
	return nil
}

// CheckURL checks a NATS_URL value, a comma-separated list of server URLs
// (nats://, tls://, ws:// or wss://; a bare host:port means nats://), and
// returns an error naming the first malformed one. The error never contains
// user-info.
func CheckURL(list string) error {
	if strings.TrimSpace(list) == "" {
		return errors.New("NATS_URL is empty; set it to the NATS server URL, such as nats://nats.example.com:4222")
	}
	for i, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if err := checkServerURL(p); err != nil {
			return fmt.Errorf("NATS_URL server %d (%s) is not a valid NATS URL: %w", i+1, redact.URLList(p), err)
		}
	}
	return nil
}

// tlsConfig builds the client TLS configuration from the CA, certificate and
// key files of o, or returns nil when none is set (TLS is still used when the
// server requires it or the URL says tls://).
func tlsConfig(o ConnectOptions) (*tls.Config, error) {
	if o.TLSCA == "" && o.TLSCert == "" && o.TLSKey == "" {
		return nil, nil
	}
	var problems []error
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			problems = append(problems, fmt.Errorf("NATS_TLS_CA: reading the CA file: %w", err))
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				problems = append(problems, fmt.Errorf("NATS_TLS_CA: %s holds no PEM certificate", o.TLSCA))
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case (o.TLSCert == "") != (o.TLSKey == ""):
		// The configuration says which variable is missing; this guards other callers.
		problems = append(problems, errors.New("TLSCert and TLSKey go together"))
	case o.TLSCert != "":
		for _, f := range []struct{ name, path string }{{"NATS_TLS_CERT", o.TLSCert}, {"NATS_TLS_KEY", o.TLSKey}} {
			if err := checkReadable(f.path); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", f.name, err))
			}
		}
		if len(problems) == 0 {
			cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
			if err != nil {
				problems = append(problems, fmt.Errorf("NATS_TLS_CERT/NATS_TLS_KEY: loading the client certificate: %w", err))
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return cfg, nil
}

// checkReadable reports whether path names a regular file this process can
// open for reading.
func checkReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read the file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot read the file: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil
}
