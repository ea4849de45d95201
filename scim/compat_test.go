package scim_test

import "github.com/scimd/scimd/store"

type storeDirectory = store.Directory

func newTokenPair() (string, []byte) { return store.NewToken("scimd_") }
