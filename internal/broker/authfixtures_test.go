package broker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// writeFile writes data to name in dir and returns the path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("writing %s: %v", name, err)
	}
	return path
}

// nkeyUser returns an nkey user's public key and a file holding its seed.
func nkeyUser(tb testing.TB) (pub, seedFile string) {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatalf("creating nkey: %v", err)
	}
	pub, err = kp.PublicKey()
	if err != nil {
		tb.Fatalf("nkey public key: %v", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		tb.Fatalf("nkey seed: %v", err)
	}
	return pub, writeFile(tb, tb.TempDir(), "user.nk", seed)
}

// operatorSetup returns server options for operator (JWT) mode trusting a
// fresh operator, and a creds file for a user of one of its accounts.
func operatorSetup(tb testing.TB) (func(*server.Options), string) {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("setting up operator mode: %v", err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, err := okp.PublicKey()
	must(err)
	oc := jwt.NewOperatorClaims(opub)
	_, err = oc.Encode(okp)
	must(err)

	akp, err := nkeys.CreateAccount()
	must(err)
	apub, err := akp.PublicKey()
	must(err)
	ajwt, err := jwt.NewAccountClaims(apub).Encode(okp)
	must(err)

	ukp, err := nkeys.CreateUser()
	must(err)
	upub, err := ukp.PublicKey()
	must(err)
	useed, err := ukp.Seed()
	must(err)
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	must(err)
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	must(err)

	resolver := &server.MemAccResolver{}
	must(resolver.Store(apub, ajwt))
	return func(o *server.Options) {
		o.JetStream = false
		o.TrustedOperators = []*jwt.OperatorClaims{oc}
		o.AccountResolver = resolver
	}, writeFile(tb, tb.TempDir(), "user.creds", creds)
}
