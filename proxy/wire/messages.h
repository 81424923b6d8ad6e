// Every wire message, for code that handles many of them (a session, the fuzzer). Code that
// needs one concern includes that header from messages/ directly.
#pragma once

#include "proxy/wire/messages/authentication.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/empty.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/messages/simple_query.h"
#include "proxy/wire/messages/startup.h"
