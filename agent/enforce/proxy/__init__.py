"""The filtering proxy: decides by host name (TLS SNI, HTTP Host, CONNECT), never decrypts."""

from agent.enforce.proxy.enforcer import ProxyEnforcer
from agent.enforce.proxy.server import DenyAll, HostRules, ProxyConfig, ProxyServer

__all__ = ["DenyAll", "HostRules", "ProxyConfig", "ProxyEnforcer", "ProxyServer"]
