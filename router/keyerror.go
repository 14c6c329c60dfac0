package router

// KeyError is one problem of a config block at a key path relative to the
// block, such as "rules[0].emit[1].properties.amount" or "url". A
// component's Validate returns its problems joined with errors.Join, each
// a *KeyError or a plain error whose text starts with "<key path>: ". The
// config loader reports each under the block's own path, with the line of
// the file where that key is (or, for a key left out, its nearest
// enclosing key), as in
//
//	eventrouter.yaml:23: sources.rewardful.rules[0].emit[1].properties.amount: unknown name bdy (column 1)
//
// A KeyError keeps the path apart from the message, so that a path whose
// keys come from the user (a property named "Plan Name" or "$value") is
// still recognised; a plain "key: message" error needs keys of letters,
// digits, '_' and '-'.
type KeyError struct {
	// Path is the key path relative to the block: keys joined with ".",
	// list indexes as "[i]".
	Path string
	// Msg says what is wrong, without the offending value when it could be
	// a secret.
	Msg string
}

// Error returns "path: msg", or msg alone when Path is empty.
func (e *KeyError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}
