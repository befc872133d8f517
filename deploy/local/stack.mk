# The local service stack (Kafka KRaft + Redis + Prometheus), included by the root Makefile.
# Everything runs as plain processes on 127.0.0.1 with state under $(RUN_DIR); see docs/local-stack.md.
STACK := bash deploy/local/stack.sh

up:
	$(STACK) up

down:
	$(STACK) down

status:
	$(STACK) status

clean:
	$(STACK) clean
