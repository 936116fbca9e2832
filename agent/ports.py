"""Port numbers the agent's parts must agree on (config, enforcement, installer docs)."""

# The filtering proxy. Not squid's 3128, so a squid on the same machine does not collide with it.
PROXY_PORT = 3129
