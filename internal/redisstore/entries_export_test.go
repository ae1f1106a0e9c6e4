package redisstore

// AddEntryScript is AddEntry's put-if-absent script, for tests of its
// semantics.
var AddEntryScript = addEntryScript

// EntryMargin is added to an entry's life for its Redis TTL.
const EntryMargin = entryMargin
