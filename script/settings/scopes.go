package settings

// ScopeInfo describes one scope for a settings browser (config).
type ScopeInfo struct {
	Path      string   // canonical dotted path; "" for the global scope
	HasParent bool     // false for the global scope
	Parent    string   // the parent's path
	Children  []string // the sub-scopes' paths, in creation order
}

// Scope describes the scope named scope (an alias such as netX resolves
// to its target); ErrNoScope if it does not exist. The builtin scope is
// not browsable.
func (s *Store) Scope(scope string) (ScopeInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.resolve(scope, false)
	if err != nil {
		return ScopeInfo{}, err
	}
	if b == nil {
		return ScopeInfo{}, ErrNoScope
	}
	info := ScopeInfo{Path: b.path()}
	if b.parent != nil {
		info.HasParent, info.Parent = true, b.parent.path()
	}
	for _, c := range b.children {
		info.Children = append(info.Children, c.path())
	}
	return info, nil
}
