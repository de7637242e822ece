package throttle

// State is everything one issuer's defences remember: the login form's
// and client authentication's failure counters and the registration
// buckets. A host that rebuilds its server for the same issuer (Caddy,
// on a config reload) passes it the same State, so rebuilding forgets
// nothing; the new server's settings apply to it from then on.
type State struct {
	logins, clientAuths *Counters
	registrations       *Buckets
	userCodes           *Counters
}

// NewState returns a State that remembers nothing yet.
func NewState() *State {
	return &State{logins: NewCounters(), clientAuths: NewCounters(), registrations: NewBuckets(), userCodes: NewCounters()}
}

// UserCodes are the failure counters of device user code entry (RFC
// 8628 §5.1).
func (s *State) UserCodes() *Counters { return s.userCodes }

// Logins are the login form's failure counters.
func (s *State) Logins() *Counters { return s.logins }

// ClientAuths are client authentication's failure counters.
func (s *State) ClientAuths() *Counters { return s.clientAuths }

// Registrations are the anonymous registration buckets.
func (s *State) Registrations() *Buckets { return s.registrations }
