p=$PEER;i=0
until ping -c1 -W1 $p >/dev/null 2>&1;do i=$((i+1));[ $i -ge 60 ]&&{ echo "peer $p unreachable";exit 1;};done
echo "peer $p reachable after $i failed probes"
ping -c 5 -i 0.2 $p|tail -n 2
i=0
until b=$(timeout 10 wget -q -O - http://$p/vmlab.txt 2>&1);do i=$((i+1));[ $i -ge 20 ]&&{ echo "http fetch failed: $b";exit 1;};sleep 0.2;done
echo "http body: $b"
[ "$b" = VMLAB-HTTP-OK ]
[ "$LINK" = 1 ]||exit 0
s(){ cut -d. -f1 /proc/uptime;}
echo "link: waiting for outage";e=$(($(s)+30))
while ping -c1 -W1 $p >/dev/null 2>&1;do [ $(s) -ge $e ]&&{ echo "link: no outage";exit 1;};sleep 0.2;done
echo "link: outage seen";e=$(($(s)+30))
until ping -c1 -W1 $p >/dev/null 2>&1;do [ $(s) -ge $e ]&&{ echo "link: peer still away";exit 1;};done
echo "link: peer back"
