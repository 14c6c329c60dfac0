package webhook

import (
	"github.com/eventrouter/eventrouter/router"
)

// Type is the source type of declarative webhook sources: the value of
// "type" in a source block.
const Type = "webhook"

// DefaultConfig returns the block of a webhook source with every default.
// A webhook source has no default path, signature or rules: each says
// what its sender sends, so they are required.
func DefaultConfig() *Settings { return &Settings{} }

// SourcePaths returns the path the source serves, when set (Validate
// reports a missing one).
func (s Settings) SourcePaths() []router.SourcePath {
	if s.Path == "" {
		return nil
	}
	return []router.SourcePath{{Key: "path", Path: s.Path}}
}

// SourceSecrets returns the signing secret, when set.
func (s Settings) SourceSecrets() []router.SourceSecret {
	if s.Signature == nil || s.Signature.Secret == "" {
		return nil
	}
	return []router.SourceSecret{{Key: "signature.secret", What: "signing secret", Env: "the sender's signing secret, from the environment", Value: s.Signature.Secret}}
}

// RefusedKey explains why a webhook source takes no write keys, rate limit
// or top-level secret.
func (s Settings) RefusedKey(key string) (string, bool) {
	switch key {
	case "write_keys":
		return "a webhook's sender cannot send a write key; set signature to have requests signed", true
	case "rate_limit":
		return "webhook senders retry refused deliveries; they are not clients to slow down", true
	case "secret":
		return "the signing secret is signature.secret", true
	}
	return "", false
}
