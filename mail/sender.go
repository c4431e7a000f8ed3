package mail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Envelope is what a Sender delivers: the SMTP envelope and the message.
type Envelope struct {
	// ID is the outbox id, also the local part of the Message-ID.
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	Data []byte `json:"data"`
}

// A Sender delivers one message. It returns nil only once the message has
// been accepted; an error wrapping ErrPermanent means retrying cannot help
// (the recipient was refused).
type Sender interface {
	Send(ctx context.Context, e Envelope) error
}

// ErrPermanent marks a delivery failure that retrying cannot mend.
var ErrPermanent = errors.New("mail: permanent delivery failure")

// DirSender writes each message as Dir/ID.eml, for development and for a
// server with no mail server configured. Writing the same id again replaces
// the file with the same bytes, so a retried delivery leaves one file.
type DirSender struct{ Dir string }

var idRE = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{20}$`)

// Send writes the message atomically (a temporary file, then a rename).
func (d DirSender) Send(ctx context.Context, e Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !idRE.MatchString(e.ID) {
		return fmt.Errorf("%w: malformed id", ErrPermanent)
	}
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return fmt.Errorf("outbox directory: %w", err)
	}
	f, err := os.CreateTemp(d.Dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(e.Data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(d.Dir, e.ID+".eml"))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write message file: %w", err)
	}
	return nil
}
