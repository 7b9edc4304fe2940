.PHONY: run test bench lint bundle

run:  ## set up and run the server with demo data, and the till
	bash scripts/run.sh

test:  ## set up and run the whole test suite
	bash scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:  ## run the benchmarks and print figures beside the budgets
	bash scripts/bench.sh

bundle:  ## build the till bundle in dist/ and run its self-check offscreen
	bash scripts/bundle.sh
