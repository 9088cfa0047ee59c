/* log.h - the agent's messages to stderr (agent/log.c). */
#ifndef HW_AGENT_LOG_H
#define HW_AGENT_LOG_H
/* One line: "herdwatch-agent: " and the message (a final newline is added when missing). */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
