// Package factor holds what second factors are made of, apart from where
// they are kept (store.FactorStore) and the pages that use them: the MFA
// policy values, TOTP (RFC 6238) secrets, codes and enrolment images, and
// recovery codes. Passkeys are meant to become another kind beside TOTP.
package factor
