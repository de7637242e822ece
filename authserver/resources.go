package authserver

import (
	"sync"

	"github.com/gatehouse-auth/gatehouse/authserver/resource"
	"github.com/gatehouse-auth/gatehouse/authserver/ui"
)

// resourceNames maps protected resources (RFC 8707 resource indicators,
// normalised) to the names the consent page shows for them. Gates of
// this server name their resources when they are provisioned; requests
// never add one.
type resourceNames struct{ m sync.Map }

// NameResource gives the protected resource uri a display name for the
// consent page ("Demo MCP server at https://localhost:9445/mcp"). An
// empty name removes it.
func (s *Server) NameResource(uri, name string) {
	if n, err := resource.Normalize(uri); err == nil {
		uri = n
	}
	if name == "" {
		s.resourceNames.m.Delete(uri)
		return
	}
	s.resourceNames.m.Store(uri, name)
}

// resourceViews are the resources of a request as the consent page names
// them: by display name and URI when known, else by URI.
func (s *Server) resourceViews(resources []string) []ui.ResourceView {
	out := make([]ui.ResourceView, 0, len(resources))
	for _, r := range resources {
		v := ui.ResourceView{URI: r}
		if name, ok := s.resourceNames.m.Load(r); ok {
			v.Name = name.(string)
		}
		out = append(out, v)
	}
	return out
}
