"""Raw Ethernet frames for the network tests: play a guest that lies, or watch what arrives.

  send-arp IFACE SRC_MAC SENDER_MAC SENDER_IP          broadcast ARP reply (gratuitous)
  send-udp IFACE SRC_MAC SRC_IP SPORT DPORT MARKER     broadcast IPv4/UDP frame carrying MARKER
  sniff IFACE SECONDS MARKER                           prints how many frames held MARKER (hex
                                                       for ARP: the sender IP's 4 bytes)
"""
import socket
import struct
import sys
import time


def mac(text):
    return bytes(int(p, 16) for p in text.split(":"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def send(iface, frame):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for _ in range(3):
        s.send(frame)
        time.sleep(0.05)


def main():
    cmd, iface = sys.argv[1], sys.argv[2]
    bcast = b"\xff" * 6
    if cmd == "send-arp":
        src, sender, ip = mac(sys.argv[3]), mac(sys.argv[4]), socket.inet_aton(sys.argv[5])
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + sender + ip + bcast + ip
        send(iface, bcast + src + b"\x08\x06" + arp)
    elif cmd == "send-udp":
        src, ip = mac(sys.argv[3]), socket.inet_aton(sys.argv[4])
        sport, dport, payload = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].encode()
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, ip,
                          socket.inet_aton("255.255.255.255"))
        hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        send(iface, bcast + src + b"\x08\x00" + hdr + udp)
    elif cmd == "sniff":
        seconds, marker = float(sys.argv[3]), sys.argv[4]
        needle = bytes.fromhex(marker[4:]) if marker.startswith("hex:") else marker.encode()
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
        s.bind((iface, 0))
        s.settimeout(0.1)
        print("ready", flush=True)
        end, n = time.time() + seconds, 0
        while time.time() < end:
            try:
                frame = s.recv(65535)
            except socket.timeout:
                continue
            if needle in frame:
                n += 1
        print(n, flush=True)


main()
