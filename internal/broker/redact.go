package broker

import (
	"net/url"
	"strings"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// connectSecrets returns the secrets of o, removed from every error message and log value of
// the connection: the password, the token, and the user-info of every URL (raw and decoded).
func connectSecrets(o ConnectOptions) redact.Secrets {
	secrets := []string{o.Password, o.Token}
	for p := range strings.SplitSeq(o.URL, ",") {
		info, ok := redact.UserInfo(strings.TrimSpace(p))
		if !ok {
			continue
		}
		// user:password, or a token alone: the user name of the first
		// form is not secret, the token of the second is.
		secret := info
		if _, pass, ok := strings.Cut(info, ":"); ok {
			secret = pass
		}
		secrets = append(secrets, info, secret)
		if dec, err := url.PathUnescape(secret); err == nil {
			secrets = append(secrets, dec)
		}
	}
	return redact.NewSecrets(secrets...)
}
