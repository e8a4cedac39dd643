"""`kit kconfig`: check kernel configs and images offline for the socket diag options.

    check.py   load each PATH (config, config.gz, image), check the required
               options, report in text or JSON (schema kit.kconfig/1)
    image.py   find the config a kernel image embeds with CONFIG_IKCONFIG
               (vmlinux, zImage, bzImage, uImage, FIT, compressed payloads)

The verdicts come from kit.analyse.kdiag.diagnose_config, the same states a
live device gets; the options are kit.diag_options.
"""
