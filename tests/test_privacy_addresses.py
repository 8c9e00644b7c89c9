"""Client addresses reduced to a client and a network: the text is what keyed hashes (bans,
budgets, flags) are made of, so it must never change for a given address."""
from __future__ import annotations

import functools
import ipaddress
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from engagement.privacy import ClientAddress, Keyring

IPV4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
IPV6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


def _network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> str:
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@given(IPV4)
def test_an_ipv4_client_is_its_address_and_its_network_the_24(address):
    assert ClientAddress.parse(str(address)) == ClientAddress(str(address), _network(address, 24))


@given(IPV6)
def test_an_ipv6_client_is_its_64_and_its_network_the_48(address):
    parsed = ClientAddress.parse(str(address))
    if address.ipv4_mapped is not None:
        mapped = address.ipv4_mapped
        assert parsed == ClientAddress(str(mapped), _network(mapped, 24))
    else:
        assert parsed == ClientAddress(_network(address, 64), _network(address, 48))


def test_fixed_examples_and_text_that_is_no_address():
    assert ClientAddress.parse("198.51.100.7") == ClientAddress("198.51.100.7", "198.51.100.0/24")
    assert ClientAddress.parse("2001:db8:1:2:3:4:5:6") == ClientAddress("2001:db8:1:2::/64", "2001:db8:1::/48")
    assert ClientAddress.parse("::ffff:192.0.2.9") == ClientAddress("192.0.2.9", "192.0.2.0/24")
    assert ClientAddress.parse("::") == ClientAddress("::/64", "::/48")
    assert ClientAddress.parse("not an address") == ClientAddress("not an address", "not an address")
    assert ClientAddress.parse("x" * 500).client == "x" * 64


@given(st.lists(st.one_of(IPV4, IPV6).map(str), min_size=1, max_size=40))
def test_identities_keep_to_their_address_however_often_it_returns(addresses):
    """A worker keeps a few thousand recent addresses parsed and hashed: a cached answer
    is the one a fresh keyring gives, and an evicted address is worked out again."""
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    keyring = Keyring("k" * 40)
    keyring._address_facts = functools.lru_cache(maxsize=4)(keyring._facts_of_address)  # evictions too
    for address in addresses + addresses[::-1]:
        fresh = Keyring("k" * 40).identify(token=None, address=address, user_agent="UA", now=now)
        assert keyring.identify(token=None, address=address, user_agent="UA", now=now) == fresh
        client = ClientAddress.parse(address)
        assert (fresh.address, fresh.address_hash) == (client.client, keyring.keyed_hash("address", client.client))
        assert fresh.network_hash == keyring.keyed_hash("network", client.network)
