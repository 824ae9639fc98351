#!/usr/bin/python3
"""mkdomain.py - a test domain from deploy/libvirt/example-domain.xml (so the example is what runs).

Usage: mkdomain.py EXAMPLE KEY=VALUE... > domain.xml
Keys: name, mac, kernel, initrd, cmdline, serial, switch, server_key, key, network,
      src_port, local_port (udp ports; left at 0 when not given), port_name,
      type (server or client: a TCP interface on src_port instead of udp)."""
import sys
import xml.etree.ElementTree as ET

NS = "urn:vmfabric:libvirt:1"
ET.register_namespace("vmfabric", NS)
tree = ET.parse(sys.argv[1])
kv = dict(a.split("=", 1) for a in sys.argv[2:])
root = tree.getroot()

root.find("name").text = kv["name"]
os_ = root.find("os")
os_.find("kernel").text = kv["kernel"]
os_.find("initrd").text = kv["initrd"]
os_.find("cmdline").text = kv["cmdline"]
root.find("devices/serial/source").set("path", kv["serial"])

fabric = root.find("metadata/{%s}fabric" % NS)
for attr, key in (("switch", "switch"), ("server-key", "server_key"), ("key", "key"),
                  ("network", "network")):
    fabric.set(attr, kv[key])
nic = fabric.find("{%s}nic" % NS)
nic.set("mac", kv["mac"])
if "port_name" in kv:
    nic.set("name", kv["port_name"])

ifc = root.find("devices/interface")
ifc.find("mac").set("address", kv["mac"])
src = ifc.find("source")
src.set("port", kv.get("src_port", "0"))
src.find("local").set("port", kv.get("local_port", "0"))
if kv.get("type", "udp") != "udp":
    ifc.set("type", kv["type"])
    src.remove(src.find("local"))
tree.write(sys.stdout, encoding="unicode")
