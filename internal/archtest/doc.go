// Package archtest holds no code: its test checks the module's layering.
//
// Imports point one way, capture → reassembly → decode → findings → output
// → cmd, with internal/ helpers usable from every layer and importing none
// of them. sockets/ (kernel socket facts) shares capture's rank: it imports
// neither capture nor anything above it. A package may import its own subpackages (capture/filter,
// decode/tlsdec) and anything of a lower layer, nothing of a higher one. The
// test also checks that the sockscope binary does not link the testing
// package.
package archtest
