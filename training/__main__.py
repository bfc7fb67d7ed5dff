from livenessapp_training.cli import main

raise SystemExit(main())
