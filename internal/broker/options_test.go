package broker

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestConnectRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "not.pem", []byte("hello"))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		o    ConnectOptions
		want []string // parts of the error message
	}{
		{"empty URL", ConnectOptions{}, []string{"NATS_URL is empty"}},
		{"user without password", ConnectOptions{URL: "nats://h:4222", User: "u"}, []string{"User and Password go together"}},
		{"password without user", ConnectOptions{URL: "nats://h:4222", Password: testPassword}, []string{"User and Password go together"}},
		{"cert without key", ConnectOptions{URL: "nats://h:4222", TLSCert: notPEM}, []string{"TLSCert and TLSKey go together"}},
		{"key without cert", ConnectOptions{URL: "nats://h:4222", TLSKey: notPEM}, []string{"TLSCert and TLSKey go together"}},
		{"unreadable creds", ConnectOptions{URL: "nats://h:4222", CredsFile: missing}, []string{"NATS_CREDS: cannot read the file", "no such file"}},
		{"unreadable nkey", ConnectOptions{URL: "nats://h:4222", NKeySeedFile: missing}, []string{"NATS_NKEY: cannot read the file"}},
		{"creds is a directory", ConnectOptions{URL: "nats://h:4222", CredsFile: dir}, []string{"NATS_CREDS: " + dir + " is a directory"}},
		{"unreadable CA", ConnectOptions{URL: "nats://h:4222", TLSCA: missing}, []string{"NATS_TLS_CA: reading the CA file"}},
		{"CA without certificates", ConnectOptions{URL: "nats://h:4222", TLSCA: notPEM}, []string{"NATS_TLS_CA: " + notPEM + " holds no PEM certificate"}},
		{"bad client certificate", ConnectOptions{URL: "nats://h:4222", TLSCert: notPEM, TLSKey: notPEM}, []string{"loading the client certificate"}},
		{"two auth methods", ConnectOptions{URL: "nats://h:4222", Token: testToken, User: "u", Password: testPassword},
			[]string{"more than one way to authenticate to NATS is set (NATS_USER/NATS_PASSWORD, NATS_TOKEN)"}},
		{"URL credentials and token", ConnectOptions{URL: "nats://u:" + testPassword + "@h:4222", Token: testToken},
			[]string{"user-info in NATS_URL, NATS_TOKEN"}},
		{"malformed URL with password", ConnectOptions{URL: "nats://u:" + testPassword + "@[::1:4222"}, []string{"NATS_URL server 1 is not a valid URL"}},
		{"http scheme", ConnectOptions{URL: "http://h:4222"}, []string{`NATS_URL server 1 is not a valid URL: scheme "http" is not one of nats, tls, ws or wss`}},
		{"missing colon", ConnectOptions{URL: "nats//h:4222"}, []string{"NATS_URL server 1 is not a valid URL: it has a path or query after the host"}},
		{"several problems", ConnectOptions{User: "u", TLSCert: notPEM}, []string{"NATS_URL is empty", "User and Password", "TLSCert and TLSKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nc, err := Connect(testContext(t), tt.o)
			if err == nil {
				nc.Close()
				t.Fatal("Connect accepted invalid options")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to contain %q", err, want)
				}
			}
			assertNoSecrets(t, err, nil)
		})
	}
}
