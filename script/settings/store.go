package settings

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Errors returned (wrapped) by Store methods.
var (
	ErrNotFound = errors.New("setting not found")
	ErrNoScope  = errors.New("no such settings scope")
	ErrBadName  = errors.New("invalid setting name")
)

// BuiltinScope is the name of the read-only scope holding computed
// settings such as errno and unixtime.
const BuiltinScope = "builtin"

type value struct {
	raw []byte
	typ *Type // type the value was stored with; nil for raw DHCP data
}

type block struct {
	name     string
	parent   *block
	children []*block
	values   map[string]value
}

func (b *block) path() string {
	var parts []string
	for ; b != nil && b.parent != nil; b = b.parent {
		parts = append([]string{b.name}, parts...)
	}
	return strings.Join(parts, ".")
}

func (b *block) child(name string) *block {
	for _, c := range b.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Store is a tree of settings scopes. The zero value is not usable; call
// NewStore. A Store is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	root     *block
	aliases  map[string]string
	builtins map[string]func() []byte
}

// NewStore returns an empty store holding only the global scope.
func NewStore() *Store {
	return &Store{
		root:     &block{values: map[string]value{}},
		aliases:  map[string]string{},
		builtins: map[string]func() []byte{},
	}
}

// SetAlias makes scope name alias refer to scope target, the way iPXE's
// "netX" refers to the most recently opened interface. An empty target
// removes the alias.
func (s *Store) SetAlias(alias, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target == "" {
		delete(s.aliases, alias)
		return
	}
	s.aliases[alias] = target
}

// SetBuiltin registers a computed setting in the builtin scope; fetch
// returns its current raw value (nil: not set). The value is formatted with
// the type of the well-known setting of that name, or as a string.
func (s *Store) SetBuiltin(name string, fetch func() []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.builtins[name] = fetch
}

// resolve finds (or with create, makes) the block for a dotted scope path.
func (s *Store) resolve(scope string, create bool) (*block, error) {
	if scope == "" {
		return s.root, nil
	}
	if scope == BuiltinScope {
		if create {
			return nil, fmt.Errorf("%w: the %s scope is read-only", ErrBadName, BuiltinScope)
		}
		return nil, nil // computed values: callers consult s.builtins
	}
	parts := strings.Split(scope, ".")
	if t, ok := s.aliases[parts[0]]; ok {
		parts = append(strings.Split(t, "."), parts[1:]...)
	}
	b := s.root
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%w %q", ErrNoScope, scope)
		}
		c := b.child(p)
		if c == nil {
			if !create {
				return nil, fmt.Errorf("%w %q", ErrNoScope, scope)
			}
			c = &block{name: p, parent: b, values: map[string]value{}}
			b.children = append(b.children, c)
		}
		b = c
	}
	return b, nil
}

// refForKey rebuilds the reference of a stored canonical name.
func refForKey(key string) Ref {
	t := parseTag(key)
	r := Ref{Name: key, Key: key, Tag: t, Def: LookupDef(key, t)}
	if r.Def != nil {
		r.Key, r.Tag = r.Def.Name, r.Def.Tag
	}
	return r
}

// Value is a fetched setting.
type Value struct {
	Raw    []byte
	Type   *Type  // type used to format Raw
	Origin string // scope the value was found in ("" = global)
	Key    string // canonical setting name
	Secret bool   // a password-type setting: never show it in clear
}

// Name returns the full name "origin/key:type" as iPXE's show prints it.
func (v Value) Name() string {
	n := v.Key + ":" + v.Type.Name
	if v.Origin != "" {
		n = v.Origin + "/" + n
	}
	return n
}

// Format returns the value as text in its type.
func (v Value) Format() (string, error) { return v.Type.Format(v.Raw) }

// Fetch finds the setting r: in r's scope, then, like iPXE, in that
// scope's sub-scopes depth first; the global scope also searches the
// builtin scope last.
func (s *Store) Fetch(r Ref) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Key == "" {
		return Value{}, fmt.Errorf("%w: empty name", ErrBadName)
	}
	b, err := s.resolve(r.Scope, false)
	if err != nil {
		return Value{}, err
	}
	if b != nil {
		if v, origin, ok := find(b, r.Key); ok {
			return s.value(r, v, origin.path()), nil
		}
	}
	if b == nil || b == s.root {
		if f, ok := s.builtins[r.Key]; ok {
			if raw := f(); raw != nil {
				return s.value(r, value{raw: raw}, BuiltinScope), nil
			}
		}
	}
	return Value{}, fmt.Errorf("%w: %q", ErrNotFound, r.displayName())
}

func (r Ref) displayName() string {
	if r.Scope != "" {
		return r.Scope + "/" + r.Key
	}
	return r.Key
}

func find(b *block, key string) (value, *block, bool) {
	if v, ok := b.values[key]; ok {
		return v, b, true
	}
	for _, c := range b.children {
		if v, o, ok := find(c, key); ok {
			return v, o, true
		}
	}
	return value{}, nil, false
}

// value applies iPXE's type precedence: the type named in the reference,
// then the well-known setting's type, then the type it was stored with,
// then string.
func (s *Store) value(r Ref, v value, origin string) Value {
	t := r.Type
	if t == nil && r.Def != nil {
		t = r.Def.Type
	}
	if t == nil {
		t = v.typ
	}
	if t == nil {
		t = String
	}
	return Value{Raw: append([]byte(nil), v.raw...), Type: t, Origin: origin, Key: r.Key, Secret: r.IsSecret()}
}

// storeType is the type a value for r is parsed with.
func storeType(r Ref) *Type {
	switch {
	case r.Type != nil:
		return r.Type
	case r.Def != nil:
		return r.Def.Type
	}
	return String
}

// Store parses text with r's type and stores it in r's scope, creating the
// scope if needed. An empty text deletes the setting, as in iPXE.
func (s *Store) Store(r Ref, text string) error {
	if text == "" {
		return s.Delete(r)
	}
	t := storeType(r)
	raw, err := t.Parse(text)
	if err != nil {
		return fmt.Errorf("store %q: %w", r.displayName(), err)
	}
	return s.StoreRaw(r, raw, t)
}

// StoreRaw stores raw bytes for r in r's scope (creating it); typ is
// remembered as the value's type (nil: decided when fetched).
func (s *Store) StoreRaw(r Ref, raw []byte, typ *Type) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Key == "" {
		return fmt.Errorf("%w: empty name", ErrBadName)
	}
	b, err := s.resolve(r.Scope, true)
	if err != nil {
		return err
	}
	b.values[r.Key] = value{raw: append([]byte(nil), raw...), typ: typ}
	return nil
}

// Delete removes r from its scope (only that scope, not sub-scopes).
// Deleting a setting that does not exist is not an error.
func (s *Store) Delete(r Ref) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.resolve(r.Scope, false)
	if err != nil {
		if errors.Is(err, ErrNoScope) {
			return nil
		}
		return err
	}
	if b != nil {
		delete(b.values, r.Key)
	}
	return nil
}

// ClearScope removes every value in scope (not its sub-scopes), creating
// the scope if it does not exist.
func (s *Store) ClearScope(scope string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.resolve(scope, true)
	if err != nil {
		return err
	}
	b.values = map[string]value{}
	return nil
}

// HasScope reports whether a scope exists.
func (s *Store) HasScope(scope string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.resolve(scope, false)
	return err == nil && b != nil
}

// Get fetches and formats the setting named name ("[scope/]name[:type]").
// ok is false if the name is invalid, the setting is absent, or its raw
// value does not fit its type.
func (s *Store) Get(name string) (text string, ok bool) {
	r, err := ParseName(name)
	if err != nil {
		return "", false
	}
	v, err := s.Fetch(r)
	if err != nil {
		return "", false
	}
	text, err = v.Format()
	return text, err == nil
}

// Set parses name and stores text (empty text deletes).
func (s *Store) Set(name, text string) error {
	r, err := ParseName(name)
	if err != nil {
		return err
	}
	return s.Store(r, text)
}

// List returns every stored value in scope and its sub-scopes ("" = all),
// scopes in creation order and names sorted within a scope, followed, for
// the global scope, by the builtin settings that have a value.
func (s *Store) List(scope string) ([]Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.resolve(scope, false)
	if err != nil {
		return nil, err
	}
	var out []Value
	var walk func(*block)
	walk = func(b *block) {
		keys := make([]string, 0, len(b.values))
		for k := range b.values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, s.value(refForKey(k), b.values[k], b.path()))
		}
		for _, c := range b.children {
			walk(c)
		}
	}
	if b != nil {
		walk(b)
	}
	if b == nil || b == s.root {
		keys := make([]string, 0, len(s.builtins))
		for k := range s.builtins {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if raw := s.builtins[k](); raw != nil {
				out = append(out, s.value(refForKey(k), value{raw: raw}, BuiltinScope))
			}
		}
	}
	return out, nil
}

// Names returns the canonical names of all stored and builtin settings,
// sorted and without duplicates (for tab completion).
func (s *Store) Names() []string {
	vals, _ := s.List("")
	seen := map[string]bool{}
	var out []string
	for _, v := range vals {
		if !seen[v.Key] {
			seen[v.Key] = true
			out = append(out, v.Key)
		}
	}
	sort.Strings(out)
	return out
}
