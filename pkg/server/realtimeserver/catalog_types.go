package realtimeserver

// jsonKind says how a column's text value becomes JSON in change payloads
// (the official server applies to_jsonb to each value).
type jsonKind int

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBool
	jsonRaw // json, jsonb
	jsonBytea
	jsonTimestamptz
	jsonTimestamp
	jsonTimetz
	jsonArray
)

// typeInfo describes a column type.
type typeInfo struct {
	oid  uint32
	name string // pg_type.typname, shown in the payload's columns
	kind jsonKind
	cmp  cmpKind
	elem *typeInfo // element type of arrays
}

// Built-in type OIDs the conversions depend on.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidTimetz      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

func kindsOf(base uint32) (jsonKind, cmpKind) {
	switch base {
	case oidBool:
		return jsonBool, cmpBool
	case oidInt2, oidInt4, oidInt8:
		return jsonNumber, cmpInt
	case oidOID:
		return jsonString, cmpInt
	case oidFloat4, oidFloat8:
		return jsonNumber, cmpFloat
	case oidNumeric:
		return jsonNumber, cmpNumeric
	case oidJSON, oidJSONB:
		return jsonRaw, cmpOther
	case oidBytea:
		return jsonBytea, cmpOther
	case oidTimestamptz:
		return jsonTimestamptz, cmpTimestamptz
	case oidTimestamp:
		return jsonTimestamp, cmpTimestamp
	case oidDate:
		return jsonString, cmpDate
	case oidTime:
		return jsonString, cmpTime
	case oidTimetz:
		return jsonTimetz, cmpOther
	case oidBpchar:
		return jsonString, cmpBpchar
	case oidText, oidVarchar, oidName, oidChar, oidUUID:
		return jsonString, cmpText
	}
	return jsonString, cmpOther
}
