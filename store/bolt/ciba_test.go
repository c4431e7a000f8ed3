package bolt

import (
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/storetest"
)

func TestCIBAConformance(t *testing.T) {
	storetest.RunCIBA(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "assent.db")
		open := func(t *testing.T) store.Store {
			t.Helper()
			db, err := Open(path, Options{NoSync: true})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
		return open(t), open
	})
}
