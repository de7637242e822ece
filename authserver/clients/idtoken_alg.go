package clients

import (
	"fmt"
	"slices"
	"strings"
)

// ID token signing algorithms (id_token_signed_response_alg, OpenID
// Connect Dynamic Client Registration 1.0 §2).

// DefaultIDTokenAlg is what a client that names no algorithm gets: RS256,
// as Registration §2 specifies and OIDC Core §15.1 requires every OP to
// support.
const DefaultIDTokenAlg = "RS256"

// idTokenAlgs are the algorithms Gatehouse can sign an ID token with (the
// token package's signing algorithms), in the order discovery lists them.
var idTokenAlgs = []string{"RS256", "ES256", "PS256", "EdDSA"}

// defaultRunTimeIDTokenAlgs are the algorithms clients created at run time
// may name when RegistryOptions and MetadataDocumentOptions say nothing:
// those of the token package's default keys.
var defaultRunTimeIDTokenAlgs = []string{"RS256", "ES256"}

// IDTokenAlgs returns the algorithms among have that can sign ID tokens,
// in the order discovery lists them (RS256 first, which OpenID Connect
// Discovery 1.0 §3 requires to be listed).
func IDTokenAlgs(have []string) []string {
	var out []string
	for _, a := range idTokenAlgs {
		if slices.Contains(have, a) {
			out = append(out, a)
		}
	}
	return out
}

// IDTokenAlg is the algorithm the client's ID tokens (and back-channel
// logout tokens, which are signed like them) are signed with.
func (m *Metadata) IDTokenAlg() string {
	if m.IDTokenSigningAlg == "" {
		return DefaultIDTokenAlg
	}
	return m.IDTokenSigningAlg
}

// checkIDTokenAlg refuses an id_token_signed_response_alg outside allowed
// (the algorithms the server has signing keys for).
func checkIDTokenAlg(m *Metadata, allowed []string) error {
	if alg := m.IDTokenAlg(); !slices.Contains(allowed, alg) {
		return metadataErr("id_token_signed_response_alg", "the server has no %s signing key (available: %s)", alg, strings.Join(allowed, ", "))
	}
	return nil
}

// runTimeIDTokenAlgs applies the default to an option's algorithms and
// keeps those that can sign ID tokens.
func runTimeIDTokenAlgs(opt []string) []string {
	if len(opt) == 0 {
		return slices.Clone(defaultRunTimeIDTokenAlgs)
	}
	return IDTokenAlgs(opt)
}

// CheckIDTokenAlgs reports the first client of src, or the first
// algorithm clients created at run time may name, that the server cannot
// sign ID tokens with because it has no key of that algorithm (have).
// It looks through a Gate and MetadataDocuments to the sources they wrap;
// a Source it does not know passes.
func CheckIDTokenAlgs(src Source, have []string) error {
	checkRunTime := func(what string, algs []string) error {
		for _, a := range algs {
			if !slices.Contains(have, a) {
				return fmt.Errorf("%s may name id_token_signed_response_alg %s, but there is no %s signing key (keys: %s)", what, a, a, strings.Join(have, ", "))
			}
		}
		return nil
	}
	switch s := src.(type) {
	case *Gate:
		return CheckIDTokenAlgs(s.next, have)
	case *MetadataDocuments:
		if err := checkRunTime("a client metadata document", s.idTokenAlgs); err != nil {
			return err
		}
		return CheckIDTokenAlgs(s.next, have)
	case *Registry:
		if err := checkRunTime("a client created at run time", s.idTokenAlgs); err != nil {
			return err
		}
		return CheckIDTokenAlgs(s.static, have)
	case Static:
		ids := make([]string, 0, len(s))
		for id := range s {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if alg := s[id].IDTokenAlg(); !slices.Contains(have, alg) {
				return fmt.Errorf("client %q: id_token_signed_response_alg: there is no %s signing key (keys: %s)", id, alg, strings.Join(have, ", "))
			}
		}
	}
	return nil
}
