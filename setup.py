# Everything is in setup.cfg. This shim exists because pybuild's distutils plugin in
# Debian 12 (dh-python 5.20230130) runs "setup.py build" and "setup.py install".
from setuptools import setup

setup()
