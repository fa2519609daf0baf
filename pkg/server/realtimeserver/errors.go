package realtimeserver

// The reasons and messages clients see, worded as the official server words
// them (realtime-js and applications match some of them). Internal causes
// are logged, never sent.
const (
	// Join error reasons ("<Code>: <message>").
	reasonUnmatchedTopic   = "unmatched topic"
	reasonTopicRequired    = "TopicNameRequired: You must provide a topic name"
	reasonPrivateChannel   = "Unauthorized: You do not have permissions to read from this Channel topic: "
	reasonPrivateWrite     = "Unauthorized: You do not have permissions to write to this Channel topic: "
	reasonWaitedSubscribe  = "RealtimeDisabledForConfiguration: "
	msgSubscribed          = "Subscribed to PostgreSQL"
	msgNotPublished        = "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: ["
	msgSubscribeException  = "Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: ["
	msgDatabaseUnavailable = "Realtime was unable to connect to the project database"
	// reasonDatabaseUnavailable refuses a private join whose policies could
	// not be checked.
	reasonDatabaseUnavailable = "UnableToConnectToProject: " + msgDatabaseUnavailable

	// Change payload errors.
	errNoPrimaryKey    = "Error 400: Bad Request, no primary key"
	errUnauthorized    = "Error 401: Unauthorized"
	errPayloadTooLarge = "Error 413: Payload Too Large"

	// WebSocket close reasons.
	closeHeartbeatTimeout = "heartbeat timeout"
	closeShutdown         = "server shutting down"
	closeTooSlow          = "client too slow: outgoing queue full (%d messages)"
)
